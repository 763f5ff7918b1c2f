export { ephemeralPortRange, freePort, freePorts, isPortFree, testPortPool } from './ports.ts';
