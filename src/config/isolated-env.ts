/**
 * Settings for a self-contained app in this process (the CLI's OpenAPI run, tests): embedded
 * PostgreSQL in `dataDir`, in-process Redis, no hosts, no bootstrap key, no logs.
 */
export function isolatedEmbeddedEnv(dataDir: string): Record<string, string | undefined> {
  return {
    DATABASE_URL: undefined,
    REDIS_URL: undefined,
    DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    HOSTS: '',
    ADMIN_API_KEY: undefined,
  };
}
