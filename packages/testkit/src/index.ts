export { hexPrefix, type Mutation, mutate, type SeededRandom, seededRandom } from './mutate.ts';
export { ephemeralPortRange, freePort, freePorts, isPortFree, testPortPool } from './ports.ts';
