using BenchmarkDotNet.Running;

namespace WalsCluster.Bench;

internal static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "sweep")
        {
            return SweepRunner.Run(args[1..]);
        }
        if (args.Length > 0 && args[0] == "dense")
        {
            return MicroRunner.Dense(args[1..]);
        }
        if (args.Length > 0 && args[0] == "woodbury")
        {
            return WoodburyProbe.Run(args[1..]);
        }
        if (args.Length > 0 && args[0] == "micro")
        {
            return MicroRunner.Run(args[1..]);
        }
        if (args.Length > 0 && args[0] == "train")
        {
            return TrainingRunner.Run(args[1..]);
        }
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
