// Plain-text tables for terminal output (chat, cluster status): aligned columns, nothing
// a pipe would choke on (no colours, no cursor tricks), and no control characters from
// what others typed.

/** Columns padded to their widest cell; the last column is not padded, and may span lines. */
export function formatTable(rows: readonly (readonly string[])[], header?: readonly string[]): string {
  const all = (header === undefined ? rows : [header, ...rows]).map((row) => row.map(printable));
  const widths: number[] = [];
  for (const row of all) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, width(firstLine(cell)))));
  return all
    .map((row) => {
      const indent = " ".repeat(row.slice(0, -1).reduce((sum, _, i) => sum + (widths[i] ?? 0) + 2, 0));
      return row
        .map((cell, i) => (i === row.length - 1 ? cell.split("\n").join(`\n${indent}`) : pad(cell, widths[i] ?? 0)))
        .join("  ")
        .trimEnd();
    })
    .map((line) => `${line}\n`)
    .join("");
}

/**
 * Text from other users (messages, names): control characters (terminal escape sequences
 * could rewrite the screen or the title) are shown as "?"; line breaks and tabs stay.
 */
export function printable(text: string): string {
  return text.replace(/\r\n?/g, "\n").replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, "?");
}

function firstLine(text: string): string {
  const end = text.indexOf("\n");
  return end === -1 ? text : text.slice(0, end);
}

function pad(text: string, to: number): string {
  return text + " ".repeat(Math.max(0, to - width(text)));
}

/** Code points, not UTF-16 units, so "→" and most accented names align. */
function width(text: string): number {
  return [...text].length;
}
