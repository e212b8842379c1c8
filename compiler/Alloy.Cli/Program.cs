using Alloy.Cli;

return Commands.Build(Console.Out, Console.Error).Parse(args).Invoke();
