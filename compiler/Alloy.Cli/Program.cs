using Alloy.Cli;

return Commands.Build(Console.Out).Parse(args).Invoke();
