/** Types of check-packages.mjs, for the TypeScript tests that import it. */

export interface WorkspacePackage {
  dir: string;
  manifest: {
    name: string;
    version: string;
    private?: boolean;
    dependencies?: Record<string, string>;
    [field: string]: unknown;
  };
}

export const WORKSPACE_ROOT: string;
export function workspacePackages(root?: string): WorkspacePackage[];
export function packPackage(dir: string, destination: string): string;
export function readTarball(path: string): Map<string, Buffer>;
export function checkTarball(tarballPath: string, workspace?: WorkspacePackage[]): string[];
export function main(argv?: string[]): number;
export function sourceMapProblems(label: string, files: Map<string, Buffer>): string[];
