// Multi-row INSERTs with few distinct statement texts, so that prepared statements can
// be cached: n rows go as chunks of 64, 16, 4 and 1 rows (at most 6 + 3 + 3 + 3 statements).

const CHUNK_SIZES = [64, 16, 4, 1] as const;

/** [first row, row count] of each chunk, in order. */
export function rowChunks(rows: number): [number, number][] {
  const chunks: [number, number][] = [];
  let at = 0;
  for (const size of CHUNK_SIZES) {
    while (rows - at >= size) {
      chunks.push([at, size]);
      at += size;
    }
  }
  return chunks;
}

const cache = new Map<string, string>();

/** "(?,?,?),(?,?,?)" for `rows` rows of `columns` parameters. */
export function valuesSql(columns: number, rows: number): string {
  const key = `${columns}x${rows}`;
  let sql = cache.get(key);
  if (sql === undefined) {
    const row = `(${Array.from({ length: columns }, () => "?").join(",")})`;
    sql = Array.from({ length: rows }, () => row).join(",");
    cache.set(key, sql);
  }
  return sql;
}
