export * from '../../shared/reconnect-policy.ts';
