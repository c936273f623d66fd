using System.CommandLine;
using WalsCluster.Host.Cli;

namespace WalsCluster.Host;

internal static class Program
{
    public static int Main(string[] args)
    {
        var root = new RootCommand("WalsCluster: Weighted Alternating Least Squares recommendations from implicit feedback.");
        root.Subcommands.Add(TrainCommand.Create());
        root.Subcommands.Add(EvaluateCommand.Create());
        root.Subcommands.Add(QueryCommands.CreateRecommend());
        root.Subcommands.Add(QueryCommands.CreateSimilar());
        root.Subcommands.Add(DataCommands.CreateSplit());
        root.Subcommands.Add(DataCommands.CreateGenerate());
        root.Subcommands.Add(EmbedCommand.Create());
        root.Subcommands.Add(EmbedCommand.CreateItemText());
        root.Subcommands.Add(Cluster.NodeCommand.Create());
        root.Subcommands.Add(Cluster.ClusterDemoCommand.Create());
        return root.Parse(args).Invoke();
    }
}
