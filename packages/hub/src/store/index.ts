// What the hub keeps, by resource. Every write is one transaction and leaves an audit record;
// every read and write goes through the rules in access.ts.
import type { Db } from '../db.js';
import { Accounts } from './accounts.js';
import { Evals } from './evals.js';
import { Federations } from './federations.js';
import { Models } from './models.js';
import { Versions } from './versions.js';

export * from './access.js';
export * from './accounts.js';
export * from './evals.js';
export * from './federations.js';
export * from './models.js';
export * from './versions.js';

export class Store {
  readonly accounts: Accounts;
  readonly models: Models;
  readonly versions: Versions;
  readonly evals: Evals;
  readonly federations: Federations;
  /** `federationDir`: where hosted federations keep their global weights and pending updates. */
  constructor(
    readonly db: Db,
    federationDir: string,
  ) {
    this.accounts = new Accounts(db);
    this.models = new Models(db);
    this.versions = new Versions(db, this.models);
    this.evals = new Evals(db, this.models, this.versions);
    this.federations = new Federations(db, federationDir);
  }
}
