export { FakeClock } from '../../../shared/testing/fake-clock.ts';
