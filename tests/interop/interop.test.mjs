// Entry point picked up by `node --test tests/interop/` (the runner only collects *.test.mjs files).
import './run.mjs';
