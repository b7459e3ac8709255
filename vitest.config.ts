import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Store tests share one Postgres database when TEST_DATABASE_URL is set; each test
    // uses its own schema, so files may still run in parallel.
    pool: 'forks',
  },
});
