// caretaker-test: run-alone (a share of the Node 18 re-run: its files run one after another in the container, and under the shared phase's load share 1 outgrew the 180 s a file)
// Share 2 (of 6) of the tests re-run under Debian 12's Node.js 18 (test/node18/node18.ts).
import { node18Tests } from './node18.js';

node18Tests(1, 6);
