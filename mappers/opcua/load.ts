// node-opcua costs 2+ s to import (shared/reference/dependencies.md §15.2), so it is loaded on
// first use — when a device first connects or a simulator starts — never when the plugin is.

export type NodeOpcua = typeof import('node-opcua');

let loading: Promise<NodeOpcua> | undefined;

export function loadNodeOpcua(): Promise<NodeOpcua> {
  loading ??= import('node-opcua').catch((err: unknown) => {
    loading = undefined;
    throw err;
  });
  return loading;
}
