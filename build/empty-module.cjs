/* global module */
// Stands in for optional packages (supports-color) so the SEA never tries to require a file from disk.
module.exports = {};
