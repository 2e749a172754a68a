/** Every workflow the worker registers; one file per runbook. */
export { health } from './health';
