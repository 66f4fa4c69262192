// Type-checked by test/types.test.js when TypeScript is installed: the
// declarations must accept the README's usage and reject misuse.
import session = require('express-session')
import connectSessiond = require('connect-sessiond')
import { SessiondStore, SessiondError, requestIdMiddleware, ttlSeconds } from 'connect-sessiond'
import * as http from 'node:http'

const store = new SessiondStore({
  url: 'http://127.0.0.1:8080',
  token: 'x',
  timeoutMs: 2000,
  agent: new http.Agent({ keepAlive: true }),
  requestId: () => undefined,
  userOf: (sess) => (sess as { passport?: { user?: string } }).passport?.user,
})
const asStore: session.Store = store
session({ store, secret: 's', resave: false, saveUninitialized: false })

const Factory = connectSessiond(session)
const other: session.Store = new Factory()

store.get('sid', (err: any, sess?: session.SessionData | null) => {
  if (sess) sess.cookie.maxAge
})
async function promises(s: session.SessionData): Promise<void> {
  const got: session.SessionData | null = await store.get('sid')
  await store.set('sid', s)
  await store.touch('sid', s)
  await store.destroy('sid')
  const rotated: { id: string; version: number } | null = await store.rotate('sid')
  const mine: { id: string; expires: number }[] = await store.listUserSessions('alice')
  const gone: number = await store.revokeUserSessions('alice', { except: 'sid' })
  void rotated, mine, gone
  store.close()
  void got
}
const e = new SessiondError('m')
const status: number | undefined = e.status
const mw = requestIdMiddleware()
const n: number = ttlSeconds({ cookie: {} })

// @ts-expect-error: table is sessiond's setting now
new SessiondStore({ table: 'sessions' })
// @ts-expect-error: timeoutMs is a number
new SessiondStore({ timeoutMs: '5' })

void asStore, other, promises, status, mw, n
