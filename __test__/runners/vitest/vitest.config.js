// The pool (threads, forks) is chosen on the command line. No results cache:
// every run starts the same way.
export default {
  test: {
    include: ['*.spec.js'],
    testTimeout: 10000,
    cache: false
  }
};
