// Asking the server who holds a lock: the query of sql.ts, and its fallback for a role that may
// not read the token table (or a database where it does not exist yet).
import { holderOf, type Holder } from './holder';
import { lockKey, lockTag } from './names';
import { holderSql, tableOf, type HolderRow } from './sql';
import { sqlStateOf } from './errors';

export type Query = <Row>(text: string, values?: unknown[]) => Promise<{ rows: Row[] }>;

export async function readHolder(query: Query, name: string, schema: string): Promise<Holder> {
  const { classid, objid } = lockTag(lockKey(name));
  const values = [name, classid, objid];
  try {
    return holderOf((await query<HolderRow>(holderSql(tableOf(schema)), values)).rows[0]);
  } catch (error) {
    const state = sqlStateOf(error);
    if (state !== '42P01' && state !== '42501') throw error;
    return holderOf((await query<HolderRow>(holderSql(null), values)).rows[0]);
  }
}
