import { deletedBundle, latestBundle } from './bundles.js';
import {
  alreadyExists,
  badParameter,
  deletedButRecoverable,
  deletedNotFound,
  FOREIGN_BLOB,
  MALFORMED_BLOB,
  managedByCertificate,
  notFound,
} from './errors.js';
import { parseJson, reply, type Reply } from './http-util.js';
import { blobKey, type ItemRequest } from './item-request.js';

/** The routes every kind shares: backup, restore, soft delete, the deleted item, purge and recover. */
export function answerLifecycle(req: ItemRequest): Reply | undefined {
  const { items, kind, space, vault, name } = req;
  const store = items.store(kind, space);
  const managedKind = kind === 'certificate' ? undefined : kind;
  switch (req.action) {
    case 'backup': {
      const outcome = items.backup(kind, space, vault, name);
      if (!outcome.ok && outcome.reason === 'managed' && managedKind) return reply(403, managedByCertificate('backup', managedKind));
      if (!outcome.ok) return reply(404, notFound(kind, name));
      req.blobs.set(blobKey(kind, space, vault, name), outcome.blob);
      return reply(200, { value: outcome.blob.toString('base64url') });
    }
    case 'restore': {
      const parsed = parseJson(req.body) as { value?: unknown } | undefined;
      if (!parsed || typeof parsed.value !== 'string') return reply(400, badParameter("The request body must be JSON with a string property 'value'."));
      const outcome = items.restore(kind, space, vault, Buffer.from(parsed.value, 'base64url'));
      if (!outcome.ok) {
        if (!('name' in outcome)) return reply(400, badParameter(outcome.reason === 'foreign' ? FOREIGN_BLOB : MALFORMED_BLOB));
        req.record.name = outcome.name;
        return reply(409, outcome.reason === 'deleted' ? deletedButRecoverable(kind, outcome.name) : alreadyExists(kind, outcome.name));
      }
      req.record.name = outcome.name;
      return reply(200, latestBundle(kind, req.idBase, outcome.item));
    }
    case 'delete': {
      if (store.find(vault, name)?.managed && managedKind) return reply(403, managedByCertificate('delete', managedKind));
      const deleted = items.softDelete(kind, space, vault, name);
      if (!deleted) return reply(404, notFound(kind, name));
      return reply(200, deletedBundle(kind, req.idBase, deleted));
    }
    case 'getDeleted': {
      const deleted = store.deleted(vault, name);
      return deleted ? reply(200, deletedBundle(kind, req.idBase, deleted)) : reply(404, deletedNotFound(kind));
    }
    case 'purge': {
      if (store.deleted(vault, name)?.item.managed && managedKind) return reply(403, managedByCertificate('purge', managedKind));
      return items.purge(kind, space, vault, name) ? { status: 204, body: '' } : reply(404, deletedNotFound(kind));
    }
    case 'recover': {
      if (store.deleted(vault, name)?.item.managed && managedKind) return reply(403, managedByCertificate('recover', managedKind));
      const item = items.recover(kind, space, vault, name);
      return item ? reply(200, latestBundle(kind, req.idBase, item)) : reply(404, deletedNotFound(kind));
    }
    default:
      return undefined;
  }
}
