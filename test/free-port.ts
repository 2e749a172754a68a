/** A TCP port on 127.0.0.1 that nothing listens on right now (for clusters a test starts). */
export { freePort } from '../lib/servers/ports';
