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
    /**
     * The owner of a session, stored with it when it is written whole (PUT):
     * e.g. (sess) => sess.passport?.user. Needs users.index in sessiond. A
     * number is written in decimal; anything else but a valid user id
     * (1 to 256 characters, no control characters) means no owner.
     */
    userOf?: (sess: session.SessionData) => string | number | undefined | null
  }

  /** One session of a user, as listUserSessions gives it. */
  interface UserSession {
    id: string
    /** Unix seconds. */
    expires: number
  }

  /** A session resource as sessiond answers it (rotate). */
  interface SessionResource {
    id: string
    data: session.SessionData
    expires: number
    version: number
    user?: string
  }

  /** A failed store call; never names the session id or the token. */
  class SessiondError extends Error {
    name: 'SessiondError'
    /**
     * 'ERR_SESSIOND_HTTP' (an error answer: see status/title), 'ERR_SESSIOND_TIMEOUT',
     * 'ERR_SESSIOND_BAD_ID', 'ERR_SESSIOND_BAD_USER', 'ERR_SESSIOND_RESPONSE', 'ERR_SESSIOND_CLOSED', or the
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
    /** 'get' | 'set' | 'touch' | 'destroy' | 'rotate' | 'listUserSessions' | 'revokeUserSessions'. */
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
    /** The session sid moved to a new id, data and owner kept; null when sid is gone. */
    rotate(sid: string, callback: Callback<SessionResource | null>): void
    rotate(sid: string): Promise<SessionResource | null>
    /** rotate(req.sessionID), then req.sessionID and req.session are the new session; the new id. */
    rotateSession(req: IncomingMessage, callback: Callback<string>): void
    rotateSession(req: IncomingMessage): Promise<string>
    /** The user's unexpired sessions, soonest expiry first (every page). */
    listUserSessions(uid: string | number, callback: Callback<UserSession[]>): void
    listUserSessions(uid: string | number): Promise<UserSession[]>
    /** Revokes the user's sessions (all but except); how many were deleted. */
    revokeUserSessions(uid: string | number, options: { except?: string } | undefined, callback: Callback<number>): void
    revokeUserSessions(uid: string | number, callback: Callback<number>): void
    revokeUserSessions(uid: string | number, options?: { except?: string }): Promise<number>
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

  /** The RFC 7386 merge patch from JSON object a to b; undefined when none can say it (a null value). */
  function mergeDiff(a: object, b: object): object | undefined
}

/**
 * connect-dynamodb style: require('connect-sessiond')(session) returns
 * SessiondStore extending that express-session's Store.
 */
declare function connectSessiond(session: typeof import('express-session')): typeof connectSessiond.SessiondStore

export = connectSessiond
