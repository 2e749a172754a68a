/** The stack's daemon bookkeeping lives in lib/servers/processes.ts (the DR environments use it too). */
export * from '../../lib/servers/processes';
