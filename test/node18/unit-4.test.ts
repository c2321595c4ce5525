// Share 4 (of 4) of the tests re-run under Debian 12's Node.js 18 (test/node18/node18.ts).
import { node18Tests } from './node18.js';

node18Tests(3, 4);
