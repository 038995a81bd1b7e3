export async function runTwoMachineDemo(): Promise<number> { return 2; }
