import type { VaultItems } from './items.js';
import type { Space } from './kinds.js';
import type { Action } from './routes.js';
import type { ItemKind, RequestRecord } from './types.js';

/** One authorised, validated request for an item route, as every kind's handler gets it. */
export interface ItemRequest {
  items: VaultItems;
  vault: string;
  space: Space;
  kind: ItemKind;
  action: Action;
  /** '' for the collection routes (list, restore). */
  name: string;
  version?: string;
  url: URL;
  body: Buffer;
  record: RequestRecord;
  apiVersion: string;
  /** Origin of the ids this vault hands out. */
  idBase: string;
  /** Base URL the client used, for nextLink. */
  base: string;
  /** The last backup blob of each item, for lastBackupBlob. */
  blobs: Map<string, Buffer>;
}

export function blobKey(kind: ItemKind, space: Space, vault: string, name: string): string {
  return `${kind}:${space}:${vault.toLowerCase()}/${name.toLowerCase()}`;
}
