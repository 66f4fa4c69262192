// ESM entry: the same objects as the CommonJS entry (one class, one module
// state), so `import` and `require` never see two different stores.
import connectSessiond from './index.js'

export const { SessiondStore, SessiondError, requestIdMiddleware, ttlSeconds, mergeDiff } = connectSessiond
export default connectSessiond
