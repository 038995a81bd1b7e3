// Typed reads of result columns. A value of the wrong type means the schema and the
// SQL disagree, a bug that must stop the node rather than be papered over.

/** A result row in column order (a libSQL client Row or a raw SqlConnection row). */
export type RowValues = ArrayLike<unknown>;

export function textAt(row: RowValues, column: number): string {
  const value = row[column];
  if (typeof value !== "string") throw new TypeError(`column ${column} is ${typeof value}, expected text`);
  return value;
}

export function textOrNullAt(row: RowValues, column: number): string | null {
  return row[column] === null ? null : textAt(row, column);
}

export function integerAt(row: RowValues, column: number): number {
  const value = row[column];
  const number = typeof value === "bigint" ? Number(value) : value;
  if (typeof number !== "number" || !Number.isSafeInteger(number)) throw new TypeError(`column ${column} is ${String(value)}, expected an integer`);
  return number;
}
