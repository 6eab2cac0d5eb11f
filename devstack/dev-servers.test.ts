import { temporalDevServerArgs } from './dev-servers';

describe('the dev server command line', () => {
  it('has no codec endpoint unless one is given, as before encryption existed', () => {
    expect(temporalDevServerArgs({ port: 7233, uiPort: 8233 })).not.toContain('--ui-codec-endpoint');
  });

  it('points the Web UI at the API codec endpoint when given one', () => {
    const args = temporalDevServerArgs({ port: 7233, uiPort: 8233, uiCodecEndpoint: 'http://127.0.0.1:3000/codec' });
    expect(args.slice(args.indexOf('--ui-codec-endpoint'), args.indexOf('--ui-codec-endpoint') + 2)).toEqual([
      '--ui-codec-endpoint',
      'http://127.0.0.1:3000/codec',
    ]);
    // A headless server has no UI to tell.
    expect(temporalDevServerArgs({ port: 7233, uiCodecEndpoint: 'http://127.0.0.1:3000/codec' })).not.toContain(
      '--ui-codec-endpoint',
    );
  });
});
