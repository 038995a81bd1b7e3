// The script file format of the interaction tests.
//
//   # comment lines and blank lines may appear between blocks
//   command arg key=value
//   ----
//   expected output, one or more lines
//   (the block ends at the first blank line or at the end of the file)
//
// Output never contains blank lines (the environment prints "ok" for a command
// that has nothing to say), so a blank line always ends a block. A comment that
// directly follows an output block without a blank line in between would be read
// as output: always leave a blank line after each block.

export interface Block {
  /** Comment and blank lines before the command, kept verbatim for rewriting. */
  readonly preamble: readonly string[];
  readonly command: string;
  /** 1-based line number of the command in the file. */
  readonly line: number;
  readonly expected: readonly string[];
}

export interface Script {
  readonly blocks: readonly Block[];
  /** Comment and blank lines after the last block. */
  readonly trailer: readonly string[];
}

export const SEPARATOR = "----";

export function parseScript(text: string, file: string): Script {
  const lines = text.split("\n");
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  const blocks: Block[] = [];
  let preamble: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.trim() === "" || line.trimStart().startsWith("#")) {
      preamble.push(line);
      i++;
      continue;
    }
    const command = line.trim();
    const commandLine = i + 1;
    i++;
    if (lines[i] !== SEPARATOR) {
      throw new Error(`${file}:${commandLine}: expected a "${SEPARATOR}" line after the command "${command}"`);
    }
    i++;
    const expected: string[] = [];
    while (i < lines.length && lines[i]!.trim() !== "") {
      expected.push(lines[i]!);
      i++;
    }
    blocks.push({ preamble, command, line: commandLine, expected });
    preamble = [];
  }
  return { blocks, trailer: preamble };
}

/** The script text with every block's expected output replaced by `outputs[i]`. */
export function renderScript(script: Script, outputs: readonly (readonly string[])[]): string {
  const out: string[] = [];
  script.blocks.forEach((block, i) => {
    out.push(...block.preamble, block.command, SEPARATOR, ...(outputs[i] ?? []));
  });
  out.push(...script.trailer);
  return out.join("\n") + "\n";
}

/**
 * A line diff (longest common subsequence) in the style of `diff -u` without hunk
 * headers: " " common, "-" expected only, "+" actual only.
 */
export function diffLines(expected: readonly string[], actual: readonly string[]): string[] {
  const n = expected.length;
  const m = actual.length;
  // lcs[i][j] = LCS length of expected[i..] and actual[j..]
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i]![j] = expected[i] === actual[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && expected[i] === actual[j]) {
      out.push(` ${expected[i]}`);
      i++;
      j++;
    } else if (j < m && (i === n || lcs[i]![j + 1]! >= lcs[i + 1]![j]!)) {
      out.push(`+${actual[j]}`);
      j++;
    } else {
      out.push(`-${expected[i]}`);
      i++;
    }
  }
  return out;
}
