/** The part of `pg` the benchmark uses (the package ships no types and @types/pg is not installed). */
declare module 'pg' {
  export class Client {
    constructor(config: { connectionString: string });
    connect(): Promise<void>;
    query(sql: string): Promise<{ rows: unknown[] }>;
    end(): Promise<void>;
  }
}
