import { defineConfig } from 'vitest/config';

// Two projects: `unit` is pure and fast; `integration` runs against the real Temporal dev server,
// PostgreSQL and MinIO that test/integration/global-setup.ts brings up (or reuses).
export default defineConfig({
  test: {
    reporters: ['default'],
    // Integration files share one stack and two cores; running them one at a time keeps timings sane.
    fileParallelism: false,
    projects: [
      {
        test: {
          name: 'unit',
          // test/replay: saved histories replayed against the workflow code, no server.
          include: ['test/unit/**/*.test.ts', 'test/replay/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test/integration/global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 600_000,
          pool: 'forks',
        },
      },
    ],
  },
});
