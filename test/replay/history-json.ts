/** The history <-> JSON conversion moved to lib/audit/history-json.ts (production code needs it); kept for the test scripts. */
export { historyFromJSON, historyToJSON } from '../../lib/audit/history-json';
