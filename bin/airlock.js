#!/usr/bin/env node
// The bundled CLI (scripts/bundle.mjs): one file to load instead of hundreds.
import "../dist/bundle/airlock.js";
