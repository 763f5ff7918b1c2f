#!/usr/bin/env node
// Entry point of the Longbow operator (Node 24 runs the TypeScript sources directly).
import { main } from '../src/main.ts';

await main();
