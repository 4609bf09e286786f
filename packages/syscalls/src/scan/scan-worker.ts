/**
 * The scan worker thread's entry (pool.ts starts it): a bundle of its own,
 * with only the scan in it, so that it boots as fast as a thread can.
 */
import { serveScans } from './pool.js';

serveScans();
