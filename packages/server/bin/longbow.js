#!/usr/bin/env node
// The `longbow` command. Runs the TypeScript sources directly (Node 24 strips types).
import '../src/cli.ts';
