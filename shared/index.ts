// Public surface of the protocol package: schemas, types, codes, version.
export * from './codec.ts';
export * from './errors.ts';
export * from './protocol/broker.ts';
export * from './protocol/common.ts';
export * from './protocol/control.ts';
export * from './protocol/join-token.ts';
export * from './protocol/media.ts';
export * from './protocol/webhooks.ts';
export * from './version.ts';
