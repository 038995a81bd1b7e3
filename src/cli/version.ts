import { readFileSync } from "node:fs";

/** The version in package.json: the one thing that names a release, so it is read, not copied. */
export function concordVersion(): string {
  const text = readFileSync(new URL("../../package.json", import.meta.url), "utf8");
  const version: unknown = (JSON.parse(text) as { version?: unknown }).version;
  if (typeof version !== "string" || version === "") throw new Error("package.json has no version");
  return version;
}
