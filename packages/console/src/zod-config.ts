import { z } from 'zod';

// Imported first by main.tsx, before any schema exists. zod compiles fast parsers with `new Function`
// unless told not to; the console's CSP forbids eval (no 'unsafe-eval'), and even zod's feature probe
// would be reported as a CSP violation. Interpreted parsing is fast enough for forms.
z.config({ jitless: true });
