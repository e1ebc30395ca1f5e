// msgpackr loads this in a try/catch and falls back to JavaScript when it throws.
throw new Error('msgpackr-extract native add-on not installed');
