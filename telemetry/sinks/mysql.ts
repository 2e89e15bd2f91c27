// dbMethod.mysql: one table per property, named `<namespace>/<name>/<property>`, as
// mapper-framework creates it (kubeedge/mapper-framework _template/mapper/data/dbmethod/mysql/client.go:
// `id INT AUTO_INCREMENT PRIMARY KEY, ts DATETIME NOT NULL, field TEXT`). edgetwin's table adds
// `eid`, the record's idempotent key, UNIQUE, and writes with INSERT IGNORE: a batch delivered
// twice is stored once. `ts` keeps milliseconds (DATETIME(3)), in local time as Go formats it.
// The user is the manifest's `userName`; the password comes from the destination's
// passwordFile/passwordEnv (mapper-framework: $PASSWORD), never from the manifest.

import { createPool, type Pool } from 'mysql2/promise';
import type { Sink, SinkRecord } from '../sink.js';
import { abortable, goTime, sinkError, wireValue, type Credentials, Shared, type SinkTarget } from './common.js';

export interface MysqlPushConfig {
  readonly mysqlClientConfig: { readonly addr: string; readonly database: string; readonly userName?: string };
}

const pools = new Shared<Pool>(async (p) => {
  await p.end();
});

function hostPort(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(':');
  if (i < 0) return { host: addr, port: 3306 };
  return { host: addr.slice(0, i).replace(/^\[|\]$/gu, ''), port: Number(addr.slice(i + 1)) };
}

export const mysqlTable = (t: SinkTarget): string => `${t.namespace}/${t.name}/${t.property}`;

function datetime(ms: number): string {
  return `${goTime(ms)}.${String(Math.trunc(ms) % 1000).padStart(3, '0')}`;
}

export function mysqlSink(target: SinkTarget, cfg: MysqlPushConfig, creds: Credentials): Sink {
  const name = `mysql:${target.namespace}/${target.name}/${target.property}`;
  const { addr, database, userName } = cfg.mysqlClientConfig;
  const user = userName ?? creds.username ?? 'root';
  const { host, port } = hostPort(addr);
  const { value: pool, release } = pools.acquire(`${addr}\u0000${database}\u0000${user}`, () =>
    createPool({ host, port, user, ...(creds.password !== undefined ? { password: creds.password } : {}), database, connectionLimit: 2, connectTimeout: 5000, dateStrings: true }),
  );
  const table = mysqlTable(target).replace(/`/gu, '``');
  let created = false;
  return {
    name,
    async deliver(batch: readonly SinkRecord[], signal) {
      try {
        if (!created) {
          await abortable(pool.query(`CREATE TABLE IF NOT EXISTS \`${table}\` (id INT AUTO_INCREMENT PRIMARY KEY, ts DATETIME(3) NOT NULL, field TEXT, eid VARCHAR(255) NULL, UNIQUE KEY eid (eid))`), signal);
          created = true;
        }
        const values = batch.map((r) => [datetime(r.timestamp), wireValue(r.value), r.key]);
        await abortable(pool.query(`INSERT IGNORE INTO \`${table}\` (ts, field, eid) VALUES ?`, [values]), signal);
      } catch (err) {
        throw sinkError(err, name);
      }
    },
    close: release,
  };
}
