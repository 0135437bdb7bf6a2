// A test file can fail with every test passed when its process exits badly (a native library crashing
// at teardown, a kill); the spec reporter then prints only 'test failed'. This names the exit code or signal.
export default async function* exitReporter(source) {
  for await (const event of source) {
    const error = event.type === 'test:fail' && event.data.nesting === 0 ? event.data.details?.error : undefined;
    if (error && (error.signal || (error.exitCode ?? 0) !== 0)) {
      yield `test file ${event.data.name}: its process ended with ${error.signal ? `signal ${error.signal}` : `exit code ${error.exitCode}`}\n`;
    }
  }
}
