// SPDX-License-Identifier: MIT
// The part of sql.js the tests use (it ships no types).
declare module "sql.js" {
  interface Statement {
    bind(values: unknown[]): boolean;
    step(): boolean;
    getAsObject(): Record<string, unknown>;
    free(): void;
  }
  interface Database {
    exec(sql: string): unknown;
    run(sql: string, params?: unknown[]): void;
    prepare(sql: string): Statement;
    getRowsModified(): number;
  }
  interface SqlJsStatic {
    Database: new () => Database;
  }
  export default function initSqlJs(config?: object): Promise<SqlJsStatic>;
}
