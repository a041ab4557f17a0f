import { Global, Inject, Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource, DataSourceOptions } from 'typeorm';
import { PGliteInstance } from 'typeorm-pglite/dist/pglite-instance';
import { AppConfig } from '../config/app-config';
import { buildDataSourceOptions } from './data-source';
import { runMigrationsLocked } from './migrate';
import { SqlDatabase } from './sql-database';

/** Closes the data source, then the embedded database (PGlite's singleton outlives destroy()). */
@Injectable()
class DatabaseShutdown implements OnApplicationShutdown {
  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    private readonly config: AppConfig,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
    if (this.config.embeddedDatabase) await closeEmbeddedDatabase();
  }
}

export async function closeEmbeddedDatabase(): Promise<void> {
  await PGliteInstance.close();
}

@Global()
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => ({
        ...buildDataSourceOptions(config),
        autoLoadEntities: true,
        // Fail fast with one clear message (see main.ts) instead of a retry loop.
        retryAttempts: 0,
      }),
      dataSourceFactory: async (options) => {
        const { migrationsRun, ...rest } = options as DataSourceOptions;
        const dataSource = await new DataSource({
          ...rest,
          migrationsRun: false,
        } as DataSourceOptions).initialize();
        if (migrationsRun) await runMigrationsLocked(dataSource, !('url' in rest && rest.url));
        return dataSource;
      },
    }),
  ],
  providers: [DatabaseShutdown, SqlDatabase],
  exports: [SqlDatabase],
})
export class DatabaseModule {}
