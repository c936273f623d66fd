namespace WalsCluster.Core.Model;

/// <summary>A model file that cannot be read: truncated, not a model file, a newer format, corrupt, or a checksum mismatch.
/// The message names the file and what is wrong.</summary>
public sealed class ModelFormatException : Exception
{
    public ModelFormatException(string path, string problem, Exception? inner = null)
        : base($"Model file '{path}': {problem}", inner)
    {
        Path = path;
        Problem = problem;
    }

    /// <summary>The file that was read.</summary>
    public string Path { get; }

    /// <summary>What is wrong with it, without the path.</summary>
    public string Problem { get; }
}
