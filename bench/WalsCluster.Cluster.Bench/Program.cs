using System.Diagnostics;
using Akka.Actor;
using Akka.Configuration;
using Akka.Serialization;
using WalsCluster.Messages;

// Two benchmarks:
//   dotnet run -c Release --project bench/WalsCluster.Cluster.Bench [repetitions]
//     bytes and time per message: WalsSerializer against Akka's default Newtonsoft JSON serializer;
//   dotnet run -c Release --project bench/WalsCluster.Cluster.Bench -- overhead --input FILE [--iterations 3] [--rows N]
//     seconds per iteration of the engine, a 1-node and a 3-process cluster, and the bytes per half-step (Overhead.cs).
if (args.Length > 0 && args[0] == "overhead")
{
    return await WalsCluster.Cluster.Bench.Overhead.RunAsync(args[1..]);
}
var repetitions = args.Length > 0 ? int.Parse(args[0]) : 20;
using var system = ActorSystem.Create("bench", ConfigurationFactory.ParseString(WalsSerializer.Hocon));
var wals = system.Serialization.FindSerializerForType(typeof(FactorBlock));
var json = new NewtonSoftJsonSerializer((ExtendedActorSystem)system);
var random = new Random(1);
var k = 64;
var messages = new (string Name, object Message)[]
{
    ("FactorBlock 1000 rows x 64", new FactorBlock("run-1", 3, Side.Users, 1, 2, 0, 1, 0, Enumerable.Range(0, 1000).ToArray(), Enumerable.Range(0, 1000 * k).Select(_ => (float)random.NextDouble()).ToArray())),
    ("BeginHalfStep k 64 (packed Gram)", new BeginHalfStep("run-1", 3, Side.Users, 1, 100000, Enumerable.Range(0, k * (k + 1) / 2).Select(_ => random.NextDouble()).ToArray(), false, new float[k * k], new float[k])),
    ("HalfStepCompleted k 64", new HalfStepCompleted("run-1", 3, Side.Items, 0, 5000, Enumerable.Range(0, k * (k + 1) / 2).Select(_ => random.NextDouble()).ToArray(), 1, 2, 3, 4, 0.5, null)),
    ("InteractionBatch 65536 entries", new InteractionBatch("run-1", Side.Users, 0, 1, Enumerable.Range(0, 3000).ToArray(), Enumerable.Range(0, 3000).Select(i => $"user{i}").ToArray(),
        Enumerable.Range(0, 65536).Select(i => i % 3000).ToArray(), Enumerable.Range(0, 65536).Select(i => i * 7 % 100000).ToArray(), Enumerable.Range(0, 65536).Select(i => i % 4).ToArray(), Enumerable.Range(0, 65536).Select(i => (float)(i % 19 + 1)).ToArray())),
    ("Recommend", new Recommend("user-123", 10)),
};
Console.WriteLine("| message | WalsSerializer bytes | round trip ms | JSON bytes | JSON round trip ms |");
Console.WriteLine("| --- | ---: | ---: | ---: | ---: |");
foreach (var (name, message) in messages)
{
    var (wb, wt) = Measure(wals, message);
    var (jb, jt) = Measure(json, message);
    Console.WriteLine($"| {name} | {wb:N0} | {wt:F3} | {jb:N0} | {jt:F3} |");
}
return 0;

(long Bytes, double Milliseconds) Measure(Serializer serializer, object message)
{
    var manifest = Serialization.ManifestFor(serializer, message);
    var bytes = serializer.ToBinary(message);
    var back = serializer is SerializerWithStringManifest s ? s.FromBinary(bytes, manifest) : serializer.FromBinary(bytes, message.GetType());
    if (back.GetType() != message.GetType())
    {
        throw new InvalidOperationException($"{serializer.GetType().Name} returned {back.GetType().Name} for {message.GetType().Name}.");
    }
    var watch = Stopwatch.StartNew();
    for (var r = 0; r < repetitions; r++)
    {
        var b = serializer.ToBinary(message);
        _ = serializer is SerializerWithStringManifest m ? m.FromBinary(b, manifest) : serializer.FromBinary(b, message.GetType());
    }
    return (bytes.LongLength, watch.Elapsed.TotalMilliseconds / repetitions);
}
