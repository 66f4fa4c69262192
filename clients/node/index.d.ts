// Type declarations for connect-sessiond. express-session's own types come
// from @types/express-session, which every TypeScript app using
// express-session already has.

import type { Agent as HttpAgent, IncomingMessage, ServerResponse } from 'node:http'
import session = require('express-session')

declare namespace connectSessiond {
  interface SessiondStoreOptions {
    /** Base URL of sessiond, e.g. "http://127.0.0.1:8080" (the default); a path prefix is kept. */
    url?: string | URL
    /** Bearer token: one of sessiond's auth.tokens. Omit when sessiond has none. */
    token?: string
    /**
     * Deadline of one store call in milliseconds, a 503 retry included
     * (default 5000).
     */
    timeoutMs?: number
    /**
     * HTTP(S) agent for the connections to sessiond. Default: a keep-alive
     * agent of the store's own, closed by close().
     */
    agent?: HttpAgent
    /**
     * Returns the current request's id, sent as X-Request-Id. Default: the id
     * bound by requestIdMiddleware(), else the id of the request the session
     * belongs to (req.id or its X-Request-Id header).
     */
    requestId?: () => string | undefined
    /**
     * get() extends the session's expiry in the same request (sessiond 1.1's
     * GET ?touch=1), so that express-session's touch() at the end of an
     * unchanged page view costs no second call. Default true.
     */
    slidingReads?: boolean
  }

  /** A failed store call; never names the session id or the token. */
  class SessiondError extends Error {
    name: 'SessiondError'
    /**
     * 'ERR_SESSIOND_HTTP' (an error answer: see status/title), 'ERR_SESSIOND_TIMEOUT',
     * 'ERR_SESSIOND_BAD_ID', 'ERR_SESSIOND_RESPONSE', 'ERR_SESSIOND_CLOSED', or the
     * socket error's code (ECONNREFUSED, ...). Thrown by the constructor:
     * 'ERR_SESSIOND_NO_EXPRESS_SESSION'.
     */
    code: string
    /** HTTP status of sessiond's answer, when there was one. */
    status?: number
    /** The problem document's title (else the status's reason phrase). */
    title?: string
    /** The problem document's type. */
    type?: string
    /** The problem document's detail. */
    detail?: string
    /** The X-Request-Id sessiond answered with (find its log line by it). */
    requestId?: string
    /** 'get' | 'set' | 'touch' | 'destroy'. */
    operation?: string
  }

  type Callback<T = void> = (err: any, value?: T) => void

  /** An express-session Store kept in sessiond. all/length/clear are not offered. */
  class SessiondStore extends session.Store {
    /**
     * Throws a SessiondError ('ERR_SESSIOND_NO_EXPRESS_SESSION') when this is
     * the named class and require('express-session') finds nothing from
     * connect-sessiond or the working directory: use the factory form then.
     */
    constructor(options?: SessiondStoreOptions)
    get(sid: string, callback: Callback<session.SessionData | null>): void
    get(sid: string): Promise<session.SessionData | null>
    set(sid: string, sess: session.SessionData, callback: Callback): void
    set(sid: string, sess: session.SessionData): Promise<void>
    touch(sid: string, sess: session.SessionData, callback: Callback): void
    touch(sid: string, sess: session.SessionData): Promise<void>
    destroy(sid: string, callback: Callback): void
    destroy(sid: string): Promise<void>
    /** Closes the store's own keep-alive connections; later calls fail. */
    close(): void
  }

  /** Middleware to mount before session(): sends each request's id to sessiond as X-Request-Id. */
  function requestIdMiddleware(): (req: IncomingMessage, res: ServerResponse, next: (err?: any) => void) => void

  /**
   * Seconds a session lives from now, from its cookie as connect-dynamodb
   * computes it (cookie.maxAge, else cookie.expires, else one day), rounded
   * up; <= 0 when the cookie has expired.
   */
  function ttlSeconds(sess: { cookie?: unknown } | null | undefined, nowMs?: number): number
}

/**
 * connect-dynamodb style: require('connect-sessiond')(session) returns
 * SessiondStore extending that express-session's Store.
 */
declare function connectSessiond(session: typeof import('express-session')): typeof connectSessiond.SessiondStore

export = connectSessiond
