// Two error types: `RuleBroken` is thrown deep inside a check, where the seed and the
// trace are not at hand; the simulation catches it (or anything the core throws) and
// rethrows a `SimulationViolation` that carries everything needed to reproduce.

export class RuleBroken extends Error {
  constructor(
    readonly rule: string,
    readonly detail: string,
  ) {
    super(`${rule}: ${detail}`);
    this.name = "RuleBroken";
  }
}

export class SimulationViolation extends Error {
  constructor(
    readonly seed: number,
    readonly rule: string,
    readonly detail: string,
    readonly traceTail: readonly string[],
    readonly rerunCommand: string,
  ) {
    super(
      `simulation seed ${seed} violated [${rule}]: ${detail}\n` +
        `reproduce: ${rerunCommand}\n` +
        `--- last ${traceTail.length} events ---\n${traceTail.join("\n")}`,
    );
    this.name = "SimulationViolation";
  }
}
