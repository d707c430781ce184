// The gate lives in the core, where the per-vault throttle also uses it.
export { Limiter } from '../core/throttle-limiter.js';
