// DynamoDB Local, listening on one address only (127.0.0.1 unless -Dsessiongate.host=... says otherwise).
//
// `java -jar DynamoDBLocal.jar` has no host option: its Jetty server listens on every interface.
// This launcher builds the server exactly as DynamoDBLocal.jar's own main() does (same command
// line: -inMemory -port N -sharedDb -disableTelemetry ...), sets the host of its connector, then
// starts it. Run as a source file (JDK 11+), with the jar and its lib folder on the class path:
//
//   java -Djava.library.path=DIR/DynamoDBLocal_lib -cp 'DIR/DynamoDBLocal.jar:DIR/DynamoDBLocal_lib/*' \
//        local/DynamoDBLocalLoopback.java -inMemory -port 8000 -sharedDb -disableTelemetry
//
// local/dynamodb_local.py starts it this way. Telemetry is never configured here, so nothing is sent.

import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.CommandLineInput;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

public class DynamoDBLocalLoopback {
    public static void main(String[] args) throws Exception {
        String host = System.getProperty("sessiongate.host", "127.0.0.1");
        if (!new CommandLineInput(args).init()) {
            return; // -help or -version: printed by init()
        }
        DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
        Field field = DynamoDBProxyServer.class.getDeclaredField("server");
        field.setAccessible(true);
        Server server = (Server) field.get(proxy);
        Connector[] connectors = server.getConnectors();
        if (connectors.length == 0) {
            throw new IllegalStateException("DynamoDB Local has no connector to bind");
        }
        for (Connector connector : connectors) {
            ((ServerConnector) connector).setHost(host);
        }
        proxy.start();
        System.out.println("DynamoDB Local listening on " + host + ":" + ((ServerConnector) connectors[0]).getLocalPort());
    }
}
