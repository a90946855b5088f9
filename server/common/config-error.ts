// Configuration errors: the CLI prints their message and exits 2, without a stack.
export class UsherConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsherConfigError';
  }
}
